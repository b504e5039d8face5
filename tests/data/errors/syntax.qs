# Error cases: reading and syntax (Q01xx). Cases are separated by "---" lines;
# tests/test_diagnostics_golden.py checks each one and compares the rendered
# diagnostics with syntax.expected. A case whose first line says [site] is
# checked against the test site (tests/conftest.py).
---
# Q0100: a character that starts no token
inbound:
    play "welcome" $
---
# Q0100: single quotes, with a hint
inbound:
    play 'welcome'
---
# Q0100: a string that is not closed on its line
inbound:
    play "welcome
    hangup
---
# Q0100: two statements on one line
inbound:
    answer; hangup
---
# Q0100: C-style operators get a hint
inbound:
    if call.queued && call.waited > 1m:
        hangup
---
# Q0100: an exclamation mark alone
inbound:
    if !call.queued:
        hangup
---
# Q0100: braces
inbound: {
    hangup
}
---
# Q0101: a block header without its colon
inbound:
    if call.waited > 1m
        hangup
---
# Q0101: "=" where "==" is meant
inbound:
    if call.caller = "123":
        hangup
---
# Q0101: a line indented for no reason
inbound:
    answer
        hangup
---
# Q0101: a misspelt keyword, with a hint
inbound:
    if call.queued:
        hangup
    elseif call.waited > 1m:
        hangup
---
# Q0101: "after" must be followed by "call"
after calls:
    hangup
inbound:
    hangup
---
# Q0101: a bare name is not a statement
inbound:
    answer
    greet
---
# Q0101: a statement at the top level
play "welcome"
inbound:
    hangup
---
# Q0101: a missing operand
inbound:
    set x = 1 +
    hangup
---
# Q0102: the file ends before the section has a body
inbound:
---
# Q0102: the file ends inside brackets
inbound:
    queue to ("support"
---
# Q0103: a dedent to a column no block started at
inbound:
    if call.queued:
            hangup
      hangup
---
# Q0104: brackets nested more than 100 deep
inbound:
    set x = (((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((1)))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))
---
# Q0105: a time of day that does not exist
inbound:
    if now.time > 24:00:
        hangup
    hangup
---
# Q0105: a duration unit given twice
inbound:
    wait 1m30s1m
---
# Q0105: an unknown escape in a string
inbound:
    play "c:\prompts\welcome"
---
# Q0105: a whole number too large for 64 bits
inbound:
    set x = 99999999999999999999
    hangup
---
# Q0105: a duration too long to represent
inbound:
    wait 99999999999999999999s
---
# Q0106: no inbound section
queue:
    announce position
---
# Q0106: an empty file (this case is only a comment)
---
# OK: a script with every layout rule used correctly gives no diagnostics
inbound:   # a comment after the header
    answer

    # a comment line inside a block
    set long = (1 +
                2)
    queue to "support"
