from collections import Counter

import pytest

from dream.reference import benefit_codes, code_lookup, kommuner, reference_version
from dream.reference.codes import group_names


def test_every_code_of_vejledning_44_is_listed_once_with_its_text():
    codes = [c.ydelseskode for c in benefit_codes()]
    assert len(codes) == 134 and len(set(codes)) == 134
    lookup = code_lookup()
    assert lookup["111"].tekst == "Dagpenge, Ledighed"
    assert lookup["999"].tekst == "Død"
    assert lookup["899"].tekst == "Sygedagpenge, Delvis rask"


def test_every_code_maps_to_a_known_group_and_activation_type():
    groups = set(group_names())
    for code in benefit_codes():
        assert code.ydelsesgruppe in groups, code
        assert code.ydelsesgruppe != "Ingen ydelse", code
        assert code.aktiveringstype, code


@pytest.mark.parametrize("code, group", [
    ("111", "A-dagpenge"), ("153", "A-dagpenge"), ("231", "A-dagpenge"), ("299", "A-dagpenge"),
    ("135", "Kontanthjælp (Jobparate)"), ("733", "Kontanthjælp (Aktivitetsparate)"),
    ("149", "Uddannelseshjælp (Jobparate)"), ("720", "Uddannelseshjælp (Aktivitetsparate)"),
    ("160", "Integrationsydelse (Jobparate)"), ("719", "Integrationsydelse (Aktivitetsparate)"),
    ("750", "Forrevalidering"), ("768", "Revalidering"), ("899", "Sygedagpenge"), ("781", "Førtidspension"),
    ("783", "Førtidspension"), ("774", "Fleksjob"), ("740", "Ledighedsydelse"), ("818", "Ressourceforløb"),
    ("870", "Jobafklaring"), ("121", "Anden ydelse"), ("651", "Anden ydelse"), ("998", "Anden ydelse"),
])
def test_groups_follow_the_domain_mapping(code, group):
    assert code_lookup()[code].ydelsesgruppe == group


@pytest.mark.parametrize("code, activation, active", [
    ("130", "Passiv", False), ("133", "Vejledning og opkvalificering", True), ("735", "Løntilskud, privat", True),
    ("736", "Løntilskud, offentlig", True), ("817", "Virksomhedspraktik, privat", True),
    ("878", "Virksomhedspraktik, offentlig", True), ("139", "Nytteindsats", True),
    ("219", "Nytteindsats", True), ("231", "Ordinær uddannelse", True), ("299", "Anden aktivering", True),
    ("899", "Passiv", False), ("111", "Passiv", False), ("783", "Ikke relevant", False),
])
def test_activation_type_comes_from_the_last_digit_within_a_family(code, activation, active):
    c = code_lookup()[code]
    assert (c.aktiveringstype, c.aktiv) == (activation, active)


def test_public_support_and_exit_flags():
    lookup = code_lookup()
    assert all(lookup[c].offentlig_forsoergelse for c in ["111", "153", "130", "783", "771", "621", "899"])
    assert not any(lookup[c].offentlig_forsoergelse for c in ["651", "652", "998", "881", "511"])
    assert [c.ydelseskode for c in benefit_codes() if c.exit] == ["996", "997", "998", "999"]


def test_cash_benefit_families_carry_their_visitation_family():
    lookup = code_lookup()
    assert lookup["733"].ydelsesfamilie == lookup["130"].ydelsesfamilie == "Kontanthjælp"
    assert lookup["710"].ydelsesfamilie == "Integrationsydelse"
    assert lookup["890"].ydelsesfamilie is None


def test_98_municipalities_in_5_regions_with_populations():
    ks = kommuner()
    assert len(ks) == 98 and len({k.kommunekode for k in ks}) == 98
    assert Counter(k.regionskode for k in ks) == {"1081": 11, "1082": 19, "1083": 22, "1084": 29, "1085": 17}
    assert "411" not in {k.kommunekode for k in ks}  # Christiansø is not a municipality
    assert all(k.befolkning > 1000 for k in ks)
    assert reference_version()
