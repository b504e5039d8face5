# A DTMF menu with a language choice.
# The menu replays its prompt after an invalid key or no key, up to
# "retries" more times, and runs "failed:" when the caller never chooses.

inbound:
    answer
    play "welcome"
    goto main_menu

block main_menu:
    # 1 support, 2 sales, 0 or * an operator, 9 in Swedish.
    menu "main-menu" timeout 5s retries 2:
        key 1:
            queue to "support"
        key 2:
            queue to "sales"
        key 9:
            # Prompts are chosen by call.language: the menu starts again in Swedish.
            set call.language = "sv"
            goto main_menu
        key 0, "*":
            goto operator
        invalid:
            play "invalid-choice"
        timeout:
            play "no-input"
        failed:
            goto operator

block operator:
    queue to "support", "sales" priority 10
