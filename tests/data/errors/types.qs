# Error cases: types and values (Q2xxx) that need no site. See syntax.qs for the format.
---
# Q2001: a number where a duration is needed, with a hint
inbound:
    wait 30
---
# Q2001: a string where a duration is needed
inbound:
    wait "10"
---
# Q2001: a number where a string is needed, with a hint
inbound:
    queue to 5
---
# Q2001: a condition that is not a boolean, with a hint
inbound:
    if call.caller:
        hangup
    hangup
---
# Q2001: comparing a duration with a number, with a hint
inbound:
    if call.waited > 5:
        hangup
    hangup
---
# Q2001: adding a string and a number, with a hint
inbound:
    play "queue-" + call.position
---
# Q2001: a duration added to a time the wrong way round
inbound:
    if 30m + now.time > 17:00:
        hangup
    hangup
---
# Q2001: "not" of a number; negating a string
inbound:
    set a = not 1
    set b = -"x"
    hangup
---
# Q2001: "and" of non-booleans
inbound:
    if call.position and call.queued:
        hangup
    hangup
---
# Q2001: "in" needs a list or a string on its right
inbound:
    if call.caller in 46:
        hangup
    if call.position in ["1", "2"]:
        hangup
    hangup
---
# Q2001: a list mixes types
inbound:
    set choices = ["1", 2]
    hangup
---
# Q2001: a function argument of the wrong type; len of a number
inbound:
    if is_open(1) or len(42) > 0:
        hangup
    hangup
---
# Q2001: a call fact assigned a value of the wrong type
inbound:
    set call.priority = "high"
    hangup
---
# Q2001: "call" and a function name used as values
inbound:
    log call
    log agents_ready
    hangup
---
# Q2001: a constant that is only known during the call
const START = call.waited
inbound:
    hangup
---
# Q2001: a field of something that is not a record
inbound:
    set x = call.caller.length
    hangup
---
# Q2001: say digits of a duration; say amount with a numeric currency
inbound:
    say digits 30s
    say amount 12.5 currency 752
    hangup
---
# Q2001: a lookup named by a variable, and a boolean key
inbound:
    set table = "customers"
    lookup table by true into customer
    hangup
---
# Q2001: save of a list
inbound:
    save "groups" = call.groups
    hangup
---
# Q2002: a built-in function with too few and too many arguments
inbound:
    if agents_ready() > 0 or starts_with(call.caller, "+46", "x"):
        hangup
    hangup
---
# Q2003: a variable assigned a number and then a string
inbound:
    set tries = 0
    set tries = "none"
    hangup
---
# Q2003: a variable assigned in a block with another type
inbound:
    set level = 1
    goto later
block later:
    collect level prompt "enter-number"
    hangup
---
# Q2004: a priority outside 0-99 (queue option and call fact)
inbound:
    set call.priority = 100
    queue to "support" priority -1
---
# Q2004: negative and overlong waits
inbound:
    wait -5s
    wait 2d
---
# Q2004: menu timeout and retries out of range
inbound:
    menu "main-menu" timeout 0s retries 21:
        key 1:
            hangup
---
# Q2004: digit counts out of range and an empty range
inbound:
    collect a digits 0
    collect b digits 33
    collect c digits 8 to 4
    hangup
---
# Q2004: a repeat count over 1000
inbound:
    repeat 1001 times:
        wait 1s
    hangup
---
# Q2004: queue option durations out of range
inbound:
    queue to "support" credit 2d target 0s prefer previous agent within 400d
---
# Q2004: voicemail to something that is not an address; max too long
inbound:
    voicemail to "support" max 2h
---
# Q2004: values from constants are range-checked too
const PRIORITY = 50 * 2
inbound:
    queue to "support" priority PRIORITY
---
# OK: durations, times and numbers combine as documented
const OPEN = 08:00
const LATE = OPEN + 9h30m
inbound:
    set span = LATE - OPEN
    if now.time >= OPEN and now.time < LATE - 15m and span > 8h:
        wait call.waited * 2 + 1s
    if call.waited / 1m > 2 and seconds(call.waited) % 60 == 0:
        hangup
    queue to "support" priority 99 credit 30s target 20s
---
# Q2004: counts and priorities that are not whole numbers
inbound:
    set call.priority = 2.5
    repeat 2.5 times:
        wait 1s
    collect pin digits 1.5 to 4 retries 1.5
    queue to "support" priority 5 + 0.5
---
# Q2005: a constant string doubled past 65,536 characters, and a constant number past 1.8e308
const A = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
const B = A + A + A + A + A + A + A + A + A + A + A + A + A + A + A + A
const C = B + B + B + B + B + B + B + B + B + B + B + B + B + B + B + B
const D = C + C + C + C + C + C + C + C + C + C + C + C + C + C + C + C
const E = D + "x"
const BIG = 9223372036854775807 * 9223372036854775807 * 9223372036854775807 * 9223372036854775807 * 9223372036854775807 * 9223372036854775807 * 9223372036854775807 * 9223372036854775807 * 9223372036854775807 * 9223372036854775807 * 9223372036854775807 * 9223372036854775807 * 9223372036854775807 * 9223372036854775807 * 9223372036854775807 * 9223372036854775807 * 9223372036854775807
inbound:
    log E
---
# Q2006: variables only ever assigned from themselves have no type to start from
inbound:
    set total = total + 1m
    set a = b
    set b = a
    wait total
---
# OK: a first value gives the type; an unknown command result is not an error without a site
inbound:
    set total = 0s
    set total = total + 1m
    do fetch() into v
    set w = v + 1
    wait total
