# Error cases: names checked against the site (tests/conftest.py: groups
# support and sales, prompts, calendar office, hot prompt outage, languages en
# and sv, lookup customers, command crm_score(number: string, weight: number)
# -> number). Every case here says [site]. See syntax.qs for the format.
---
# Q1003 [site]: an unknown answer group, with a hint
inbound:
    queue to "suport"
---
# Q1003 [site]: unknown groups in add group, remove group and functions
queue:
    add group "billing"
    remove group "helpdesk"
    if calls_waiting("marketing") > 3:
        requeue to "sales", "overflow"
inbound:
    queue to "support"
---
# Q1003 [site]: a group named by a constant is checked too
const GROUP = "suppport"
inbound:
    queue to GROUP
---
# Q1004 [site]: unknown prompts in play, menu, collect and callback
inbound:
    play "welcom"
    menu "mainmenu":
        key 1:
            pass
    collect pin prompt "pin-please"
    queue to "support"
queue:
    offer callback prompt "callback-offer"
---
# Q1005 [site]: an unknown calendar
inbound:
    if not is_open("ofice") or is_holiday("national"):
        hangup
    queue to "support"
---
# Q1006 [site]: an unknown lookup
inbound:
    lookup "customer" by call.caller into customer
    queue to "support"
---
# Q1007 [site]: an unknown custom command
inbound:
    do crm_scor(call.caller, 1) into score
    queue to "support"
---
# Q1009 [site]: a field the lookup does not have
inbound:
    lookup "customers" by call.caller into customer
    if customer.segmnt == "gold":
        queue to "sales"
    queue to "support"
---
# Q1011 [site]: an unknown hot prompt
inbound:
    play hot "outag"
    if hot_prompt_active("storm"):
        hangup
    queue to "support"
---
# Q2001 [site]: a command argument of the wrong type (and Q2003: a number result into a string variable)
inbound:
    set label = "x"
    do crm_score(call.caller, "heavy") into label
    queue to "support"
---
# Q2001 [site]: lookup fields have the site's types
inbound:
    lookup "customers" by call.caller into customer
    if customer.score == "high" or customer.since > 30m:
        hangup
    queue to "support"
---
# Q2002 [site]: a custom command with the wrong number of arguments
inbound:
    do crm_score(call.caller) into score
    queue to "support"
---
# Q2004 [site]: a language the site does not have
inbound:
    set call.language = "de"
    queue to "support"
---
# OK [site]: every kind of site name used correctly
const SUPPORT = "support"
inbound:
    play hot "outage"
    if not is_open("office"):
        play "closed"
        hangup
    set call.language = "sv"
    lookup "customers" by call.caller into customer
    do crm_score(call.caller, 2) into score
    if customer.found and customer.segment == "gold" and score > 0.5:
        queue to SUPPORT, "sales" priority 10
    queue to SUPPORT
queue:
    every 1m:
        if calls_waiting("sales") < 2:
            add group "sales"
        offer callback prompt "cb-offer"
