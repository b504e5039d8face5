"""Generate a large, realistic queue script for the compile benchmark.

The script is what a big contact centre's single script looks like: an
inbound section that routes by dialled number and menu to one block per
department, each block with comments, blank lines, calendar checks, menus,
digit collection, lookups, priorities and overflow — every statement kind
the language has, in the proportions real scripts use them.
"""

from __future__ import annotations

import sys

_DEPARTMENT = '''\
# ---------------------------------------------------------------- department {n}
# Handles {topic} questions. Opening hours follow the office calendar.
block dept{n}:
    play "dept{n}-welcome"
    if not is_open("office") or is_holiday("office"):
        play "dept{n}-closed"
        voicemail to "dept{n}@example.com" prompt "leave-message" max 2m
        hangup

    menu "dept{n}-menu" timeout 5s retries 2:
        key 1:
            set topic = "{topic}"
            goto dept{n}_queue
        key 2:
            collect customer_number prompt "enter-customer-number" digits 6 to 10 timeout 10s valid if luhn_valid(customer_number):
                invalid:
                    play "invalid-number"
                failed:
                    goto dept{n}_queue
            lookup "customers" by customer_number into customer
            if customer.found and customer.segment == "gold":
                set vip = true
            goto dept{n}_queue
        key 3, 4:
            say number {n}
            play "dept{n}-info"
        invalid:
            play "invalid-choice"
        timeout:
            play "no-input"
        failed:
            transfer to "+46870{n:05d}"

block dept{n}_queue:
    # Gold customers jump the queue; others get weighted priority by hour.
    if vip:
        queue to "dept{n}", "gold" priority 10 target 20s
    elif now.time >= 16:00 or now.weekday in ["saturday", "sunday"]:
        queue to "dept{n}" credit 2m when empty goto dept{n}_closed
    else:
        queue to "dept{n}" prefer previous agent within 7d

block dept{n}_closed:
    play "dept{n}-closed"
    voicemail to "dept{n}@example.com"
    hangup

'''

_TOPICS = ["billing", "invoices", "orders", "returns", "delivery", "technical support",
           "accounts", "contracts", "insurance", "claims"]


def _head(departments: int) -> str:
    out = ["# Generated benchmark script: one block per department.",
           "const SUPPORT = \"support\"", "",
           "inbound:", "    answer", "    play hot \"outage\"",
           "    set vip = false"]
    for n in range(departments):
        out.append(f"    {'if' if n == 0 else 'elif'} call.dialled == \"+4687{n:06d}\":")
        out.append(f"        goto dept{n}")
    out += ["    else:", "        queue to SUPPORT", "",
            "queue:", "    every 45s:", "        announce position", "        announce wait",
            "        if call.waited > 5m and agents_ready(\"overflow\") > 0:",
            "            add group \"overflow\"", "        if call.waited > 15m:",
            "            offer callback prompt \"cb-offer\"", "",
            "after call:", "    collect score prompt \"survey-q1\" digits 1 timeout 5s",
            "    save \"survey.q1\" = score", ""]
    return "\n".join(out) + "\n"


def generate(lines: int) -> str:
    """A script of at least ``lines`` lines in which every block is reachable."""
    departments = 1
    while True:
        text = _head(departments) + "".join(
            _DEPARTMENT.format(n=n, topic=_TOPICS[n % len(_TOPICS)]) for n in range(departments))
        if text.count("\n") >= lines:
            return text
        departments += 1


if __name__ == "__main__":
    sys.stdout.write(generate(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000))
