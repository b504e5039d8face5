# Prefer the agent the caller last spoke to, if that was within 7 days.
# The call first waits for that agent alone for a limited time,
# then any agent of the group may take it.

inbound:
    answer
    play "welcome"
    queue to "support" prefer previous agent within 7d

queue:
    if call.previous_agent != "":
        log "caller last spoke to " + call.previous_agent
    music "default"
    every 1m:
        announce wait
