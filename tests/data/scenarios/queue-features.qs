# A script exercising every queue feature; tests/runtime/test_scenarios.py
# drives it through tests/data/scenarios/queue-features.test.yaml.
inbound:
    answer
    play hot "outage"
    menu "main-menu" timeout 5s retries 0:
        key 1:
            queue to "sales"
        key 2:
            queue to "support" priority 5
        key 3:
            queue to "support" credit 2m
        key 4:
            queue to "sales", "support"
        key 5:
            queue to "support" prefer previous agent within 1h
        key 6:
            queue to "support" when empty goto nobody
        key 7:
            queue to "support"
        failed:
            goto message

queue:
    every 30s:
        announce position
        if call.waited >= 1m and call.menu == "7":
            add group "overflow"
        if call.waited >= 3m and call.menu == "7":
            remove group "overflow"
            transfer to "+4687770000"
        if call.waited >= 2m and call.menu == "1":
            offer callback prompt "cb-offer"

after call:
    menu "survey-q1" timeout 5s retries 0:
        key 9:
            requeue to "supervisors"
        key 1, 2, 3, 4, 5:
            save "survey.q1" = call.menu

block nobody:
    play "nobody-here"
    goto message

block message:
    voicemail to "support@example.com" max 1m
    hangup
