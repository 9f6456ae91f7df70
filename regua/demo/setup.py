"""The demo's small tables, made with the ORM: team, catalogue, tags and companies."""

from datetime import datetime

import numpy as np
from django.contrib.auth.hashers import make_password
from django.utils.text import slugify

from regua.commerce.models import Category, Product
from regua.customers.models import Company, Level, Tag
from regua.lib.text import search_key
from regua.users.models import User

from . import catalog
from .simulate import Shop

DEMO_TAGS = {
    "newsletter": "newsletter",
    "vip": "VIP",
    "clube": "Clube",
    "b2b": "B2B",
    "black-friday": "Black Friday",
}


def shop_create(
    *, contacts: int, months: int, seed: int, now: datetime
) -> tuple[Shop, dict[str, int]]:
    shop = Shop(contacts=contacts, months=months, seed=seed, now=now)
    shop.agents = _team()
    shop.set_catalogue(_catalogue())
    shop.companies = _companies(max(10, contacts // 50), seed, shop.agents)
    tag_ids = {}
    for key, name in DEMO_TAGS.items():
        tag, _created = Tag.objects.get_or_create(key=Tag.key_for(name), defaults={"name": name})
        tag_ids[key] = tag.pk
    return shop, tag_ids


def _team() -> list[int]:
    agents = []
    password = make_password(catalog.DEMO_PASSWORD)  # hashed once: hashing is slow on purpose
    for email, first, last, role in catalog.TEAM:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create(
                email=email,
                password=password,
                first_name=first,
                last_name=last,
                role=role,
                is_staff=role == "admin",
                is_superuser=role == "admin",
            )
        if role == "agent":
            agents.append(user.pk)
    return agents


def _catalogue() -> list[tuple[int, str, float, int]]:
    products = []
    for index, ((slug, name), items) in enumerate(catalog.CATALOGUE.items()):
        category, _created = Category.objects.get_or_create(slug=slug, defaults={"name": name})
        prefix = "PRES" if slug == "presentes" else slug[:4].upper()
        for number, (product_name, price) in enumerate(items, start=1):
            sku = f"{prefix}-{number:03d}"
            product, _created = Product.objects.get_or_create(
                sku=sku,
                defaults={
                    "name": product_name,
                    "price": price,
                    "category": category,
                    "url": f"https://loja.exemplo.com.br/p/{slugify(product_name)}",
                },
            )
            products.append((product.pk, sku, float(product.price or price), index))
    return products


def _companies(count: int, seed: int, agents: list[int]) -> int:
    rng = np.random.default_rng([seed, 999_999])
    levels = [Level.HIGH, Level.MEDIUM, Level.LOW]
    companies = []
    for number in range(1, count + 1):
        kind, industry = catalog.COMPANY_KINDS[int(rng.integers(len(catalog.COMPANY_KINDS)))]
        word = catalog.COMPANY_WORDS[int(rng.integers(len(catalog.COMPANY_WORDS)))]
        suffix = catalog.COMPANY_SUFFIXES[int(rng.integers(len(catalog.COMPANY_SUFFIXES)))]
        city, uf, ddd, _weight = catalog.CITIES[int(rng.integers(len(catalog.CITIES)))]
        name = f"{kind} {word} {number} {suffix}"
        companies.append(
            Company(
                id=number,
                external_id=f"E{number:06d}",
                name=name,
                search_name=search_key(name),
                industry=industry,
                employees=int(rng.integers(3, 120)),
                city=city,
                state=uf,
                phone=f"+55{ddd}3{int(rng.integers(1000000, 9999999))}",
                owner_id=agents[(number - 1) % len(agents)] if agents else None,
                profitability=levels[int(rng.choice(3, p=[0.2, 0.5, 0.3]))],
                purchase_potential=levels[int(rng.choice(3, p=[0.3, 0.4, 0.3]))],
                relationship_degree=levels[int(rng.choice(3, p=[0.25, 0.45, 0.3]))],
            )
        )
    Company.objects.bulk_create(companies, batch_size=1000)
    return count
