# Error cases: names (Q1xxx) that need no site. See syntax.qs for the format.
---
# Q1001: an unknown variable, with a did-you-mean hint
inbound:
    collect account_number prompt "enter-number"
    lookup "customers" by acount_number into customer
    hangup
---
# Q1001: an unknown variable with nothing close to it
inbound:
    if vip_level > 3:
        hangup
    hangup
---
# Q1001: a constant is used before its definition
const B = A + 1
const A = 1
inbound:
    hangup
---
# Q1002: goto an unknown block, with a hint
inbound:
    goto closd
block closed:
    hangup
---
# Q1002: "when empty goto" an unknown block
inbound:
    queue to "support" when empty goto nobody_there
---
# Q1008: an unknown function, with a hint
inbound:
    if agent_ready("support") > 0:
        queue to "support"
    hangup
---
# Q1008: an unknown function with nothing close to it
inbound:
    set x = sqrt(2)
    hangup
---
# Q1009: an unknown call fact, with a hint
inbound:
    if call.wait > 1m:
        hangup
    hangup
---
# Q1009: an unknown fact of "now", listing the facts
inbound:
    if now.month == "june":
        hangup
    hangup
---
# Q1010: two inbound sections
inbound:
    answer
inbound:
    hangup
---
# Q1010: a block and an "after call" section defined twice
inbound:
    goto closed
block closed:
    hangup
block closed:
    hangup
after call:
    stop
after call:
    stop
---
# Q1010: a constant defined twice
const GROUP = "support"
const GROUP = "sales"
inbound:
    queue to GROUP
---
# Q1012: a constant cannot be assigned
const GROUP = "support"
inbound:
    set GROUP = "sales"
    queue to GROUP
---
# Q1012: a call fact that is not settable
inbound:
    set call.caller = "+46701234567"
    hangup
---
# Q1012: only call facts can be set
inbound:
    set now.time = 08:00
    hangup
---
# Q1013: a block named after a built-in function
inbound:
    goto len
block len:
    hangup
---
# Q1013: a constant and variables named after built-ins
const now = 1
inbound:
    set call = "x"
    collect is_open
    hangup
---
# OK: names may repeat across kinds: a variable, a block and a field
inbound:
    set closed = false
    lookup "customers" by call.caller into customer
    if customer.found and customer.closed == "yes":
        goto closed
    hangup
block closed:
    hangup
