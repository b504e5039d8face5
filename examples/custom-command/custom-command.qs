# Custom commands: "do" runs a Python function the site provides
# (see crm_commands.py). The checker knows their signatures, so a wrong
# argument is a compile-time error, not a failed call.

inbound:
    answer
    do blocked(call.caller) into is_blocked
    if is_blocked:
        hangup

    collect customer_no prompt "enter-customer-number" digits 6 to 10:
        invalid:
            play "invalid-number"
    if customer_no != "":
        do open_case(customer_no, "phone") into case_number
        log "opened case " + case_number
    queue to "support"
