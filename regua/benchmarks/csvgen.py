"""Generated CSV exports for the import benchmarks: shaped like a Brazilian shop's files."""

import csv
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

FIRST = [
    "Ana",
    "Clara",
    "João",
    "Maria",
    "Pedro",
    "Lucas",
    "Júlia",
    "Gabriel",
    "Beatriz",
    "Rafael",
    "Larissa",
    "Mateus",
    "Fernanda",
    "Thiago",
    "Camila",
    "Bruno",
]
LAST = [
    "Silva",
    "Souza",
    "Oliveira",
    "Santos",
    "Lima",
    "Pereira",
    "Ferreira",
    "Costa",
    "Rodrigues",
    "Almeida",
    "Nascimento",
    "Carvalho",
    "Gomes",
    "Ribeiro",
]
CITIES = [
    ("São Paulo", "SP", "11"),
    ("Rio de Janeiro", "RJ", "21"),
    ("Belo Horizonte", "MG", "31"),
    ("Curitiba", "PR", "41"),
    ("Porto Alegre", "RS", "51"),
    ("Recife", "PE", "81"),
    ("Salvador", "BA", "71"),
    ("Fortaleza", "CE", "85"),
    ("Manaus", "AM", "92"),
]
EVENTS = [
    "login",
    "product_viewed",
    "product_viewed",
    "product_viewed",
    "signup",
    "upgrade",
    "complaint",
]


def contacts_csv(path: Path, rows: int, seed: int = 1, offset: int = 0) -> Path:
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(
            [
                "external_id",
                "nome",
                "email",
                "telefone",
                "data_nascimento",
                "cidade",
                "uf",
                "sexo",
                "tags",
                "email_consent",
                "plano",
            ]
        )
        for i in range(rows):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            city, uf, ddd = rng.choice(CITIES)
            writer.writerow(
                [
                    f"N{offset + i:08d}",
                    f"{first} {last} {rng.choice(LAST)}",
                    f"cliente{offset + i}@exemplo.com.br",
                    f"({ddd}) 9{rng.randint(6000, 9999)}-{rng.randint(0, 9999):04d}",
                    f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(1950, 2006)}",
                    city,
                    uf,
                    rng.choice("FM"),
                    rng.choice(["vip", "newsletter", "vip,newsletter", ""]),
                    rng.choice(["sim", "não"]),
                    rng.choice(["ouro", "prata", "bronze"]),
                ]
            )
    return path


def events_csv(path: Path, rows: int, contacts: int, seed: int = 2) -> Path:
    """An event stream export of the last 30 days, in time order as tracking writes it."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(days=30)
    step = 30 * 86400 / rows
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer_id", "name", "occurred_at", "properties"])
        for i in range(rows):
            name = rng.choice(EVENTS)
            sku = f"SKU-{rng.randint(1, 500)}"
            props = json.dumps({"sku": sku}) if name == "product_viewed" else ""
            at = start + timedelta(seconds=(i + rng.random()) * step)
            customer = f"C{rng.randint(1, contacts):07d}"  # the demo's external ids
            writer.writerow([customer, name, at.isoformat(timespec="seconds"), props])
    return path
