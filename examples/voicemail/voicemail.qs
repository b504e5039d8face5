# Voice messages by e-mail when the office is closed, and when nobody is
# logged in to take the call.

const MAILBOX = "support@example.com"

inbound:
    answer
    if not is_open("office"):
        play "closed"
        goto message
    queue to "support" when empty goto message

block message:
    # Records up to 3 minutes after the prompt and e-mails the recording.
    voicemail to MAILBOX prompt "leave-message" max 3m
    play "thanks"
    hangup
