inbound:
    menu "main" timeout 5s retries 3:
        key 1:
            pass
        key 2, "*", "#":
            pass
        key 0:
            pass
        timeout:
            play "too-slow"
        invalid:
            play "invalid"
        failed:
            hangup
    collect pin prompt "enter-pin" digits 4 to 8 terminator "#" timeout 10s retries 2 valid if len(pin) >= 4:
        invalid:
            play "bad-pin"
        timeout:
            play "too-slow"
        failed:
            hangup
    collect code digits 4
    collect x terminator "*"
    offer callback key 9
