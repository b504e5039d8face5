# Error cases: control flow and phases (Q4xxx). See syntax.qs for the format.
---
# Q4001: statements after goto, hangup and stop (warnings)
inbound:
    if call.queued:
        hangup
        play "closed"
    if call.waited > 1m:
        stop
        play "closed"
    goto closed
    play "closed"
block closed:
    hangup
---
# Q4001: after "queue to" and "transfer to"
inbound:
    if call.caller == "":
        transfer to "+46812345678"
        hangup
    queue to "support"
    play "welcome"
---
# Q4001: after an if whose every branch ends, and after an endless every
inbound:
    if now.time < 08:00:
        hangup
    else:
        queue to "support"
    play "welcome"
queue:
    every 30s:
        announce position
    announce wait
---
# Q4002: a while loop that never waits
inbound:
    set n = 0
    while n < 3:
        set n = n + 1
    hangup
---
# Q4002: a while loop that only waits on one path
queue:
    while call.queued:
        if call.waited > 5m:
            wait 30s
        log "still waiting"
inbound:
    queue to "support"
---
# Q4002: a cycle of gotos that never waits
inbound:
    goto check
block check:
    if agents_ready("support") > 0:
        queue to "support"
    goto retry
block retry:
    goto check
---
# Q4002: a block that jumps to itself
inbound:
    goto loop
block loop:
    log "again"
    goto loop
---
# Q4003: break outside a loop, also in a menu handler
inbound:
    break
    menu "main-menu":
        key 1:
            break
    hangup
---
# Q4004: answer and queue to in the queue phase
queue:
    answer
    queue to "sales"
inbound:
    queue to "support"
---
# Q4004: queue phase statements in the inbound phase
inbound:
    announce position
    add group "sales"
    remove group "support"
    offer callback prompt "cb-offer"
    requeue to "sales"
---
# Q4004: voicemail and transfer after the call
inbound:
    queue to "support"
after call:
    voicemail to "support@example.com"
    transfer to "+46812345678"
---
# Q4004: a block reached from two phases takes both
inbound:
    goto greet
queue:
    goto greet
block greet:
    answer
    announce wait
    wait 10s
---
# Q4004: "when empty goto" runs its block as in the inbound phase
inbound:
    queue to "support" when empty goto nobody
block nobody:
    announce position
    hangup
---
# Q4005: a block nothing reaches (warning)
inbound:
    hangup
block forgotten:
    hangup
---
# Q4006: every with an interval under a second
queue:
    every 500ms:
        announce position
inbound:
    queue to "support"
---
# Q4007: constant conditions (warnings)
inbound:
    if true:
        play "welcome"
    while false:
        wait 1s
    hangup
---
# OK: loops that wait, a goto cycle that plays, break inside loops, and a
# repeat loop that need not wait (its count bounds it)
inbound:
    goto check
block check:
    play "welcome"
    if agents_ready("support") > 0:
        queue to "support"
    goto check
queue:
    every 30s:
        announce position
        if call.waited > 10m:
            break
    while call.queued:
        menu "main-menu":
            key 1:
                break
    repeat 3 times:
        log "no wait needed"
after call:
    stop
---
# Q4008: the queue section can requeue before it waits (also through a goto and an every's first round)
inbound:
    queue to "support"
queue:
    every 30s:
        if agents_logged_in("support") == 0:
            goto move
        announce position
block move:
    requeue to "sales"
---
# OK: the queue section waits before it requeues
inbound:
    queue to "support"
queue:
    every 30s:
        announce position
        if agents_logged_in("support") == 0 and "sales" not in call.groups:
            requeue to "sales"
