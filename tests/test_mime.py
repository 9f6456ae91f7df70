"""The SMTP path writes régua e-mails itself (channels/mime.py): what a mail client reads
back must be exactly what was rendered, whatever the accents, lengths and line ends."""

import email
import email.policy

from regua.cadences.channels.base import Outgoing
from regua.cadences.channels.mime import address, message_bytes


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def test_accents_long_lines_and_line_ends_come_back_as_written() -> None:
    text = "Olá, Conceição!\r\nSua avaliação é importante: " + "ã" * 300 + "\n\n. ponto inicial"
    html = "<p>Olá, Conceição!</p>" + "<span>ç</span>" * 200
    subject = "Feliz aniversário, Conceição! 🎉 " + "Presente especial " * 6
    outgoing = Outgoing(
        delivery_id=7,
        channel="email",
        to="conceicao@exemplo.com.br",
        subject=subject,
        text=text,
        html=html,
        message_id="<regua.7.abc@regua.test>",
        headers={"List-Unsubscribe": "<https://regua.test/u/x>", "X-Regua-Delivery": "7"},
    )
    raw = message_bytes(outgoing, address("Loja São João <contato@loja.com.br>"))
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"")
    message = parse(raw)
    assert message["Subject"] == " ".join(subject.split())
    assert message["From"].addresses[0].display_name == "Loja São João"
    assert message["To"] == "conceicao@exemplo.com.br"
    assert message["Message-ID"] == "<regua.7.abc@regua.test>"
    assert message["X-Regua-Delivery"] == "7"
    plain = message.get_body(("plain",)).get_content()
    assert plain.replace("\r\n", "\n") == text.replace("\r\n", "\n")
    assert message.get_body(("html",)).get_content().rstrip("\n") == html


def test_a_line_break_cannot_reach_a_header() -> None:
    outgoing = Outgoing(
        delivery_id=1,
        channel="email",
        to="a@exemplo.com.br",
        subject="Oi\r\nBcc: intruso@exemplo.com",
        text="x",
        message_id="<m@regua.test>",
    )
    message = parse(message_bytes(outgoing, "regua@localhost"))
    assert message["Bcc"] is None
    assert message["Subject"] == "Oi Bcc: intruso@exemplo.com"
    assert message.get_content().strip() == "x"


def test_international_domains_are_written_in_ascii() -> None:
    assert address("maria@açaí.com.br") == "maria@" + "açaí".encode("idna").decode() + ".com.br"
    assert address("Conceição <c@exemplo.com.br>").isascii()
