# File header comment.
# Second header line.

const A = 1  # trailing on a const
# About B
const B = 2

# Before inbound.
inbound:  # trailing on a section header
    # Leading comment of the first statement.
    answer  # trailing on answer
    if a:  # trailing on if
        play "x"
        # deeper than the body: stays at the end of the if body
    # at the if's column: before elif
    elif b:  # trailing on elif
        play "y"
        # end of the elif body
    else:  # trailing on else
        # first thing in the else body
        play "z"
    # end of the inbound body

# Before queue, at column 1.
queue:
    every 30s:
        if c:
            play "deep"
            # deeper than any block: end of the if body
            # at the if body's column: end of the if body
        # end of the every body
    # at the queue body's column: before log
    # inside a call
    log f(a, b)  # on the last line of a wrapped statement
    play "last"

block x:
    menu "m":  # trailing on menu
        # before the first handler
        key 1:  # trailing on a handler
            pass
        # before invalid
        invalid:
            pass
        # at the handlers' column: end of the menu
    # end of block x

# Before block y, at column 1.
block y:
    if a:
        pass

    # between the body and a distant else, at the if's column
    else:  # trailing on a distant else
        # blank lines around this one

        pass
    # one
    # two
    play [1, 2, 3]
    play "after"  # trailing
# The end of the file.
