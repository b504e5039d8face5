# Compound statements: if/elif/else, loops with break, goto, menus, collect.
inbound:
    set n = 0
    if now.time < 08:00:
        goto closed
    elif now.weekday == "sunday":
        play "closed"
        hangup
    else:
        play "welcome"
    while call.waited < 1m:
        wait 10s
        if agents_ready("support") > 0:
            break
    repeat 3 times:
        set n = n + 1
        play "tick"
    repeat n times:
        play "tick"
    menu "main-menu" timeout 4s retries 1:
        key 1:
            set call.language = "en"
        key 2, "*":
            goto closed
        invalid:
            play "invalid"
        timeout:
            play "no-input"
        failed:
            hangup
    menu "short-menu":
        key 0:
            pass
    collect account prompt "enter-number" digits 4 to 8 terminator "#" timeout 6s retries 2 valid if starts_with(account, "1"):
        invalid:
            play "invalid"
        timeout:
            play "no-input"
        failed:
            goto closed
    collect pin digits 4
    queue to "support"

queue:
    every 45s:
        announce position
        if call.waited > 10m:
            break

block closed:
    play "closed"
    hangup
