# Queueing with every option, requeue, groups, callback, voicemail, transfer.
inbound:
    queue to "support", "sales" priority 5 credit 60s target 20s prefer previous agent within 24h when empty goto nobody

queue:
    every 1m:
        announce wait
        if call.waited > 2m:
            add group "overflow" priority 2 credit 30s
        if call.waited > 5m:
            remove group "sales"
        if call.waited > 10m:
            offer callback prompt "cb-offer"
        if call.waited > 20m:
            requeue to "backup" priority 9 target 10s when empty goto nobody
        if call.waited > 30m:
            transfer to "+46812345678"

after call:
    collect rating prompt "survey-q1" digits 1 valid if rating in ["1", "2", "3", "4", "5"]
    save "survey.q1" = rating
    if rating == "1":
        requeue to "complaints"

block nobody:
    voicemail to "support@example.com"
    hangup
