const A = 1 + 2 * 3
const B = (1 + 2) * 3
const C = 1 - (2 - 3)
const D = 1 - 2 - 3
const E = 1 - 2 - 3
const F = 2 * (3 / 4)
const G = -x
const H = -(a + b)
const I = -(-x)
const J = -(not x)
const K = not a == b
const L = not (a and b)
const M = (not a) == b
const N = a == (not b)
const O = not not a
const P = a and not b or c
const Q = a or b and c
const R = (a or b) and c
const S = a in [1, 2, 3]
const T = a not in ["x", "y"]
const U = a in b == c
const V = call.caller.digits
const W = (a + b).x
const X = f(a, b) + g()
const Y = "quote \" backslash \\ newline \n tab \t"
const Z = []
const AA = 08:30
const AB = 1h30m
const AC = 2.5
const AD = 7
const AE = true or false
const AF = now.time >= 08:00 and now.time < 17:30
const AG = a % b * c / d
const AH = a * (b % c)
const AI = a != b
const AJ = a <= b == (c > d)
const AK = -a * -b
const AL = (-a).x
const AM = not not a == b
const AN = a
const AO = "#not a comment"  # but this is
const AP = customer.key
const AQ = a - -b
const AR = not a and not b
const AS = not -a
const AT = 100000000000000000000.0
const AU = 0.00001

inbound:
    if not is_open("office") or call.waited > 2m and estimated_wait(GROUP) >= 10m:
        pass
