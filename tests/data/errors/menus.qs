# Error cases: menus and input (Q3xxx). See syntax.qs for the format.
---
# Q3001: a key handled twice, also within a list of keys
inbound:
    menu "main-menu":
        key 1:
            queue to "support"
        key 2, 1:
            queue to "sales"
        key "#", "#":
            hangup
---
# Q3002: keys that are not telephone keys
inbound:
    menu "main-menu":
        key 10:
            hangup
        key "a", "**":
            hangup
---
# Q3002: a callback key and a collect terminator that are not keys
queue:
    offer callback key "ok"
inbound:
    collect pin terminator "enter"
    queue to "support"
---
# Q3003: two invalid: handlers, two failed: handlers
inbound:
    menu "main-menu":
        key 1:
            hangup
        invalid:
            play "invalid"
        failed:
            hangup
        invalid:
            play "invalid"
        failed:
            hangup
---
# Q3004: an option given twice
inbound:
    menu "main-menu" timeout 5s retries 2 timeout 10s:
        key 1:
            hangup
    queue to "support" priority 1 priority 2
---
# Q3005: key handlers on a collect
inbound:
    collect pin digits 4:
        key 1:
            hangup
        timeout:
            hangup
    hangup
---
# Q3006: a menu with no key handlers
inbound:
    menu "main-menu":
        timeout:
            hangup
    hangup
---
# Q3007: an invalid: handler that can never run (warning)
inbound:
    collect pin prompt "enter-number":
        invalid:
            play "invalid"
    queue to "support"
---
# OK: a collect with a digit range may have an invalid: handler
inbound:
    collect pin prompt "enter-number" digits 4 to 6 terminator "#" valid if starts_with(pin, "1"):
        invalid:
            play "invalid"
        timeout:
            play "closed"
        failed:
            hangup
    queue to "support"
---
# Q3008: add group takes only priority and credit
inbound:
    queue to "support"
queue:
    add group "sales" priority 2 target 30s
---
# Q3008: offer callback without a prompt
inbound:
    queue to "support"
queue:
    offer callback key 1
