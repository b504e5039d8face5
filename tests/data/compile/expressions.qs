# Every operator, literal kind, fact, function and constant folding.
const BASE = 10
const FOLDED = BASE * 2 + 1 - 3
const GREETING = "hello " + "world"
const OPEN = 08:00
const CLOSE = OPEN + 9h30m
const DAY = CLOSE - OPEN
const KEYS = ["1", "2"]

inbound:
    set a = call.position + 1
    set b = a - 2
    set c = a * 3
    set d = a / 4
    set e = a % 5
    set f = -a
    set g = a == b or a != c
    set h = a < b and a <= c
    set i = a > b or a >= c
    set j = not g
    set k = call.caller in KEYS
    set l = call.caller not in ["x", "y"]
    set m = "abc" in call.caller
    set o = [a, b, c]
    set p = call.waited + 30s - 1m * 2
    set q = now.time + 15m
    set r = now.time - 1h30m
    set s = now.time - OPEN
    set t = call.waited / 1m
    set u = to_text(call.waited) + to_text(a) + to_text(g)
    set v = len(call.caller) + len(o) + seconds(call.waited)
    set w = estimated_wait("support") < 2m and service_level("support") >= 80.5
    set x = is_open("office") and not is_holiday("office") or hot_prompt_active("outage")
    set y = luhn_valid(call.digits) and ends_with(call.caller, "0") and to_number("12") > 0
    set z = agents_logged_in("support") + agents_busy("support") + calls_waiting("support")
    set old = oldest_wait("support") > call.estimated_wait
    set far = call.elapsed > 0s and call.callback == false and call.queued == true
    set info = call.dialled + call.menu + call.language + call.id + call.agent + call.previous_agent + now.date
    set many = call.groups
    set folded = FOLDED + BASE
    set text = GREETING
    set late = now.time > CLOSE and DAY > 8h
    set prio = call.priority * 2
    set neg = -(2 + 3)
    set paren = (a + b) * (c - d)
    lookup "customers" by a into customer
    set seg = customer.segment + to_text(customer.found)
    log "a=" + to_text(a)
    log now.time
    queue to "support"
