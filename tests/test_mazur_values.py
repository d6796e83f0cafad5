"""Reference section 1 from bare Values: the 2-2-2 network's E_total, dE/dw5 and dE/dw1."""

from conftest import TOL, build_mazur


def test_forward_pass_matches_the_hand_derivation():
    n = build_mazur()
    published = {"net_h1": 0.377500000, "out_h1": 0.593269992, "out_h2": 0.596884378, "net_o1": 1.105905967,
                 "out_o1": 0.751365070, "out_o2": 0.772928465, "E_o1": 0.274811083, "E_o2": 0.023560026,
                 "E_total": 0.298371109}
    for name, value in published.items():
        assert abs(n[name].data - value) <= TOL, name


def test_dE_dw5_and_dE_dw1():
    n = build_mazur()
    n["E_total"].backward()
    dE_dw5 = n["w5"].grad
    dE_dw1 = n["w1"].grad
    assert abs(dE_dw5 - 0.082167041) <= TOL
    assert abs(dE_dw1 - 0.000438568) <= TOL
    dE_dout_h1 = n["out_h1"].grad
    assert abs(dE_dout_h1 - 0.036350306) <= TOL
    assert abs(n["out_o1"].grad - 0.741365070) <= TOL
    assert abs(n["net_o1"].grad - 0.138498562) <= TOL
