# Support line
const SUPPORT = "support"

inbound:
    answer
    play hot "outage"
    if not is_open("office"):
        play "closed"
        voicemail to "support@example.com" max 2m
        hangup
    menu "main-menu" timeout 5s retries 3:
        key 1:
            set call.language = "sv"
        key 2, "*":
            set call.language = "en"
        invalid:
            play "invalid-choice"
        failed:
            goto operator
    collect customer_number prompt "enter-number" digits 4 to 8 terminator "#" timeout 10s retries 2 valid if len(customer_number) >= 4:
        invalid:
            play "invalid-number"
    lookup "customers" by customer_number into customer
    if customer.found and customer.segment == "gold":
        queue to SUPPORT, "gold" priority 5 credit 60s target 20s prefer previous agent within 24h when empty goto closed
    queue to SUPPORT

queue:
    every 60s:
        announce position
        announce wait
        if call.waited > 2m and agents_ready("overflow") > 0:
            add group "overflow"
        if call.waited > 10m:
            offer callback prompt "cb-offer" key 1

block operator:
    transfer to "+46812345678"

block closed:
    play "closed"
    say amount 12.50 currency "SEK"
    hangup

after call:
    collect rating prompt "survey-q1" digits 1 valid if rating in ["1", "2", "3", "4", "5"]
    save "survey.q1" = rating
