# Every simple statement, each in a phase where it is allowed.
const SUPPORT = "support"

inbound:
    answer
    pass
    play "welcome"
    play "welcome", "menu-intro"
    play hot "outage"
    say number 42
    say amount 12.50 currency "SEK"
    say digits "4711"
    say digits 4711
    say duration 90s
    music "jazz"
    music off
    wait 2s
    set tries = 0
    set call.language = "sv"
    set call.priority = 5
    log "caller " + call.caller
    log call.waited
    save "last-caller" = call.caller
    lookup "customers" by call.caller into customer
    do crm_score(call.caller, 2) into score
    do notify(call.id)
    voicemail to "support@example.com" prompt "leave-message" max 2m
    if customer.found:
        transfer to "+46812345678"
    queue to SUPPORT

queue:
    announce position
    announce wait
    add group "sales" priority 3
    remove group "sales"
    offer callback prompt "cb-offer" key "#" timeout 8s
    requeue to "overflow"

after call:
    stop

block unused:
    hangup
