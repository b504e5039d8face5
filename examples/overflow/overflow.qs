# Overflow: widen the search over time without losing the caller's place.
#
# - nobody logged in to "support" when the call arrives: straight to the
#   external overflow number;
# - after 60 s the "overflow" group may answer too;
# - when every support agent has logged out, move the call to "sales";
# - after 10 minutes, send the call to the external overflow number.

const OVERFLOW_NUMBER = "+46812345600"

inbound:
    answer
    play "welcome"
    queue to "support" when empty goto external

queue:
    music "default"
    wait 60s
    add group "overflow"
    every 30s:
        if call.waited >= 10m:
            transfer to OVERFLOW_NUMBER
        if agents_logged_in("support") == 0 and agents_logged_in("overflow") == 0:
            requeue to "sales"

block external:
    transfer to OVERFLOW_NUMBER
