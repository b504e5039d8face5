# An after-call satisfaction survey. "after call:" runs when the agent hangs
# up while the caller is still on the line. The answers are saved with the
# call record, where the statistics pick them up.

inbound:
    answer
    play "welcome"
    queue to "support"

after call:
    # "How satisfied were you? Press 1 (not at all) to 5 (very)."
    menu "survey-q1" timeout 6s retries 1:
        key 1, 2, 3, 4, 5:
            save "satisfaction" = to_number(call.menu)
            save "agent" = call.agent
            play "thanks"
        invalid:
            play "invalid-choice"
    hangup
