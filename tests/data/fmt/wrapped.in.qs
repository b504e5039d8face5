inbound:
	answer
	if a:
		play f(1,
		       2,
		       3)
	play ["a"
	  , "b"]
queue:
  every 1m:
        announce wait
block w:
    log (
        a + b
    )  # after the closing parenthesis
    set x = (
        1  # inside the parentheses
    )
    play "x"
block v:
    if a:
        pass
    elif (  # on the elif line
        b
    ):  # on the colon line
        pass
