inbound:
    answer
    if a:
        play f(1, 2, 3)
    play ["a", "b"]

queue:
    every 1m:
        announce wait

block w:
    log a + b  # after the closing parenthesis
    # inside the parentheses
    set x = 1
    play "x"

block v:
    if a:
        pass
    # on the elif line
    elif b:  # on the colon line
        pass
