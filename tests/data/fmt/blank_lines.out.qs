const A = 1

const B = 2
const C = 3

inbound:
    answer

    play "a"
    play "b"

    if x:
        play "c"

        play "d"
    else:
        play "e"

    menu "m":
        key 1:
            pass

        key 2:
            pass
        invalid:
            pass

queue:
    stop

block b:
    stop

const D = 4
