# The support line: a complete, realistic queue script.
#
# It runs with the site configuration next to it (site.yaml): answer groups
# support, sales, overflow and gold; the calendar "office"; the hot prompt
# "outage"; the lookup "customers" (fields name, segment, balance).
#
#     qscript check --site examples/support/site.yaml examples/support/support.qs

const SUPPORT = "support"
const MAILBOX = "support@example.com"
const OVERFLOW_NUMBER = "+46812345600"

inbound:
    answer

    # An operator switches this on during an outage; otherwise it is silent.
    play hot "outage"

    if is_holiday("office") or not is_open("office"):
        goto closed

    play "welcome"

    # Identify the caller: a keyed-in customer number, else the caller ID.
    collect customer_no prompt "enter-customer-number" digits 6:
        invalid:
            play "invalid-number"
        timeout:
            play "no-input"
    if customer_no != "":
        lookup "customers" by customer_no into customer
    else:
        lookup "customers" by call.caller into customer

    # Gold customers skip the menu and go before everyone else.
    if customer.found and customer.segment == "gold":
        queue to "gold", SUPPORT priority 90 prefer previous agent within 7d when empty goto closed

    goto main_menu

block main_menu:
    menu "main-menu" timeout 5s retries 2:
        key 1:
            set topic = "support"
        key 2:
            set topic = "sales"
        key 9:
            set call.language = "sv"
            goto main_menu
        invalid:
            play "invalid-choice"
        timeout:
            play "no-input"
        failed:
            set topic = "support"

    log "topic " + topic + ", customer " + customer_no

    if topic == "sales":
        queue to "sales" when empty goto closed

    # Customers with large balances rank as if they had waited 2 minutes more.
    if customer.found and customer.balance > 10000:
        queue to SUPPORT credit 2m prefer previous agent within 7d when empty goto closed
    queue to SUPPORT prefer previous agent within 7d when empty goto closed

queue:
    music "default"
    every 30s:
        announce position
        announce wait

        # Widen the search after a minute; the call keeps its place.
        if call.waited >= 1m and "overflow" not in call.groups:
            add group "overflow"

        # Everybody in the call's groups went home: move it to sales.
        if agents_logged_in(SUPPORT) == 0 and agents_logged_in("overflow") == 0:
            requeue to "sales"

        # A long wait: offer a callback, once.
        if not offered and call.waited >= 3m:
            set offered = true
            offer callback prompt "cb-offer" key 1 timeout 8s

        # Never more than 10 minutes: hand over to the external partner.
        if call.waited >= 10m:
            transfer to OVERFLOW_NUMBER

after call:
    menu "survey-q1" timeout 6s retries 1:
        key 1, 2, 3, 4, 5:
            save "satisfaction" = to_number(call.menu)
            save "agent" = call.agent
            play "thanks"
    hangup

block closed:
    play "closed"
    voicemail to MAILBOX prompt "leave-message" max 2m
    play "thanks"
    hangup
