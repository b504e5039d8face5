# Opening hours, holidays and a hot prompt for outages.
# The calendar "office" (regular hours, public holidays and deviations) is
# kept in the site configuration, so changing the hours needs no new script.

inbound:
    answer

    # Plays only while an operator has switched the hot prompt "outage" on.
    play hot "outage"

    if is_holiday("office"):
        goto closed
    if not is_open("office"):
        goto closed

    # During an outage, skip the greeting and queue at once.
    if hot_prompt_active("outage"):
        queue to "support"

    play "welcome"

    # Over lunch the sales team helps out with support calls.
    if now.time >= 12:00 and now.time < 13:00:
        queue to "support", "sales"
    queue to "support"

block closed:
    play "closed"
    hangup
