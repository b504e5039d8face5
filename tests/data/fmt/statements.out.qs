const GROUP = "support"
const TIMEOUT = 5s

inbound:
    answer
    play "welcome", "menu-intro", GREETING
    play hot "outage"
    say number 42
    say amount 12.5 currency "SEK"
    say digits call.caller
    say duration 1h30m
    music "jazz"
    music off
    wait 10s
    set lang = "sv"
    set call.language = lang
    set call.priority = 5
    log "caller " + call.caller
    save "last.caller" = call.caller
    lookup "customers" by call.caller into customer
    do crm_score(call.caller, 1) into score
    do notify()
    do ping() into pong
    voicemail to "support@example.com" prompt "vm-intro" max 2m
    queue to GROUP, "backup" priority 5 credit 30s target 20s prefer previous agent within 24h when empty goto closed
    pass

queue:
    every 30s:
        announce position
        announce wait
        add group "overflow" priority 3 credit 1m
        remove group "overflow"
        requeue to "gold" priority 9
        offer callback prompt "cb" key "*" timeout 20s
        while agents_ready(GROUP) == 0:
            wait 5s
            break
        repeat 3 times:
            play "still-waiting"
    stop

after call:
    transfer to "+46812345678"
    hangup

block closed:
    goto other

block other:
    stop
