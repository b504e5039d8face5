# Priority from a customer lookup.
#
# - Absolute priority: gold customers go before every other caller
#   (priority 0-99, higher first).
# - Weighted priority: a credit makes a call rank as if it had already
#   waited that long, so it gets ahead without starving everyone else.

const SUPPORT = "support"

inbound:
    answer
    lookup "customers" by call.caller into customer

    if customer.found and customer.segment == "gold":
        queue to "gold", SUPPORT priority 90

    if customer.found and customer.balance > 10000:
        queue to SUPPORT credit 2m

    queue to SUPPORT

queue:
    music "default"
    every 1m:
        announce position
