"""Brazilian reference data: states, their time zones, CNPJ check digits."""

from regua.lib.text import fold

# UF → (name, IANA time zone of the capital). Brazil has had no daylight saving time since
# 2019; the zones still matter for the states west of Brasília time.
STATES: dict[str, tuple[str, str]] = {
    "AC": ("Acre", "America/Rio_Branco"),
    "AL": ("Alagoas", "America/Maceio"),
    "AP": ("Amapá", "America/Belem"),
    "AM": ("Amazonas", "America/Manaus"),
    "BA": ("Bahia", "America/Bahia"),
    "CE": ("Ceará", "America/Fortaleza"),
    "DF": ("Distrito Federal", "America/Sao_Paulo"),
    "ES": ("Espírito Santo", "America/Sao_Paulo"),
    "GO": ("Goiás", "America/Sao_Paulo"),
    "MA": ("Maranhão", "America/Fortaleza"),
    "MT": ("Mato Grosso", "America/Cuiaba"),
    "MS": ("Mato Grosso do Sul", "America/Campo_Grande"),
    "MG": ("Minas Gerais", "America/Sao_Paulo"),
    "PA": ("Pará", "America/Belem"),
    "PB": ("Paraíba", "America/Fortaleza"),
    "PR": ("Paraná", "America/Sao_Paulo"),
    "PE": ("Pernambuco", "America/Recife"),
    "PI": ("Piauí", "America/Fortaleza"),
    "RJ": ("Rio de Janeiro", "America/Sao_Paulo"),
    "RN": ("Rio Grande do Norte", "America/Fortaleza"),
    "RS": ("Rio Grande do Sul", "America/Sao_Paulo"),
    "RO": ("Rondônia", "America/Porto_Velho"),
    "RR": ("Roraima", "America/Boa_Vista"),
    "SC": ("Santa Catarina", "America/Sao_Paulo"),
    "SP": ("São Paulo", "America/Sao_Paulo"),
    "SE": ("Sergipe", "America/Maceio"),
    "TO": ("Tocantins", "America/Araguaina"),
}
STATE_CHOICES = [(uf, name) for uf, (name, _tz) in STATES.items()]
DEFAULT_TIME_ZONE = "America/Sao_Paulo"
_BY_NAME = {fold(name): uf for uf, (name, _tz) in STATES.items()}


def state_code(value: str) -> str | None:
    """'sp', 'SP', 'São Paulo' or 'sao paulo' → 'SP'; None when it is no Brazilian state."""
    cleaned = value.strip()
    if cleaned.upper() in STATES:
        return cleaned.upper()
    return _BY_NAME.get(fold(cleaned))


def state_time_zone(uf: str) -> str:
    return STATES[uf][1] if uf in STATES else DEFAULT_TIME_ZONE


def cnpj_is_valid(digits: str) -> bool:
    """Check a 14-digit CNPJ's two check digits (mod 11, weights 5..2,9..2 then 6..2,9..2)."""
    if len(digits) != 14 or not digits.isdigit() or digits == digits[0] * 14:
        return False

    def check(base: str) -> str:
        weights = list(range(len(base) - 7, 1, -1)) + list(range(9, 1, -1))
        total = sum(int(d) * w for d, w in zip(base, weights, strict=True))
        rest = total % 11
        return "0" if rest < 2 else str(11 - rest)

    first = check(digits[:12])
    return digits[12:] == first + check(digits[:12] + first)
