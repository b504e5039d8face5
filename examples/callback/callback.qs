# Offer a callback once the wait gets long. A caller who accepts hangs up
# and keeps their place: when their turn comes, an agent calls them back.

inbound:
    answer
    play "welcome"
    queue to "support"

queue:
    music "default"
    every 45s:
        announce position
        announce wait
        if not offered and call.waited >= 2m and call.estimated_wait > 3m:
            set offered = true
            # "Press 1 to be called back"; any other key or silence declines.
            offer callback prompt "cb-offer" key 1 timeout 8s
