# The smallest useful script: every call is answered and queued to "main".
inbound:
    answer
    queue to "main"
