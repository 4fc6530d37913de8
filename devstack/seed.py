"""Seed the demo database: users, products and orders with the awkward data real reports meet.

NULLs, DECIMAL money, dates and datetimes, Korean text, and text that starts with = + - @ (which
a careless writer would turn into formulas). Deterministic for a given order count and day.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from devstack.stack import StackConfig, admin_connection, log

SCHEMA = [
    "DROP TABLE IF EXISTS orders",
    "DROP TABLE IF EXISTS products",
    "DROP TABLE IF EXISTS users",
    "DROP TABLE IF EXISTS seed_info",
    """CREATE TABLE users (
        id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(200) NOT NULL,
        city VARCHAR(50) NULL, note VARCHAR(200) NULL, created_at DATETIME NOT NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    """CREATE TABLE products (
        id INT PRIMARY KEY, name VARCHAR(200) NOT NULL, category VARCHAR(50) NOT NULL,
        price DECIMAL(10,2) NOT NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    """CREATE TABLE orders (
        id BIGINT PRIMARY KEY, user_id INT NOT NULL, product_id INT NOT NULL, quantity INT NOT NULL,
        amount DECIMAL(12,2) NOT NULL, status ENUM('paid','refunded','cancelled') NOT NULL,
        created_at DATETIME NOT NULL, shipped_on DATE NULL, memo TEXT NULL,
        KEY orders_created (created_at), KEY orders_user (user_id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    "CREATE TABLE seed_info (orders INT NOT NULL, seeded_for DATE NOT NULL, version INT NOT NULL)",
]

FAMILY = ["김", "이", "박", "최", "정", "강", "조", "윤", "장", "임"]
GIVEN = ["민준", "서연", "도윤", "하은", "시우", "지유", "예준", "수아", "주원", "지민"]
CITIES = ["서울", "부산", "인천", "대구", "대전", "광주", None]
CATEGORIES = ["Books", "도서", "Electronics", "가전", "Food", "식품"]
TRICKY_TEXT = [
    "=SUM(A1:A9)",
    "+82-10-1234-5678",
    "-10% 할인 적용",
    "@channel 확인 부탁",
    '=HYPERLINK("http://example.invalid")',
    "\t탭으로 시작",
    "https://example.invalid/orders",
    "주문 메모 ✅ 😀",
    "x' OR '1'='1",
    "'; DROP TABLE orders; --",
]
STATUSES = ["paid"] * 8 + ["refunded", "cancelled"]
DAYS = 60
SEED_VERSION = 2  # bump when the generated data changes, so existing stacks reseed
BATCH = 5000


def seed_day() -> dt.date:
    return dt.datetime.now(ZoneInfo("Asia/Seoul")).date()


def seed(config: StackConfig, orders: int, *, force: bool = False) -> bool:
    """Create and fill the demo schema; skip when the same seed is already in place."""
    today = seed_day()
    with admin_connection(config) as connection, connection.cursor() as cursor:
        if not force and _already_seeded(cursor, orders, today):
            log(f"demo database already holds {orders:,} orders seeded for {today}")
            return False
        for statement in SCHEMA:
            cursor.execute(statement)
        rng = random.Random(42)
        cursor.executemany("INSERT INTO users VALUES (%s, %s, %s, %s, %s, %s)", list(_users(rng)))
        products = list(_products(rng))
        cursor.executemany("INSERT INTO products VALUES (%s, %s, %s, %s)", products)
        prices = {row[0]: row[3] for row in products}
        batch: list[tuple[Any, ...]] = []
        for row in _orders(rng, orders, today, prices):
            batch.append(row)
            if len(batch) == BATCH:
                cursor.executemany("INSERT INTO orders VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", batch)
                batch = []
        if batch:
            cursor.executemany("INSERT INTO orders VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", batch)
        cursor.execute("INSERT INTO seed_info VALUES (%s, %s, %s)", (orders, today, SEED_VERSION))
    log(f"seeded {orders:,} orders over the {DAYS} days before {today}")
    return True


def _already_seeded(cursor: Any, orders: int, today: dt.date) -> bool:
    cursor.execute(
        "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'seed_info' AND column_name = 'version'"
    )
    if cursor.fetchone()[0] == 0:
        return False
    cursor.execute("SELECT orders, seeded_for, version FROM seed_info")
    row = cursor.fetchone()
    return row is not None and tuple(row) == (orders, today, SEED_VERSION)


def _users(rng: random.Random) -> Any:
    start = dt.datetime(2024, 1, 1)
    for user_id in range(1, 2001):
        name = rng.choice(FAMILY) + rng.choice(GIVEN)
        if user_id % 200 == 0:
            name = TRICKY_TEXT[(user_id // 200) % len(TRICKY_TEXT)]
        note = rng.choice(TRICKY_TEXT) if user_id % 7 == 0 else None
        created = start + dt.timedelta(minutes=rng.randrange(0, 700 * 24 * 60))
        yield (user_id, name, f"user{user_id}@example.invalid", rng.choice(CITIES), note, created)


def _products(rng: random.Random) -> Any:
    for product_id in range(1, 201):
        category = CATEGORIES[product_id % len(CATEGORIES)]
        price = Decimal(rng.randrange(500, 50_000_000)) / 100
        yield (product_id, f"{category} 상품 {product_id}", category, price)


def _orders(rng: random.Random, count: int, today: dt.date, prices: dict[int, Decimal]) -> Any:
    first = dt.datetime.combine(today - dt.timedelta(days=DAYS), dt.time())
    span_seconds = DAYS * 24 * 3600
    for order_id in range(1, count + 1):
        # Spread evenly so every day has orders; ids grow with time like a real table.
        created = first + dt.timedelta(seconds=span_seconds * (order_id - 1) // max(count, 1) + rng.randrange(0, 3))
        product_id = rng.randrange(1, 201)
        quantity = rng.randrange(1, 6)
        status = rng.choice(STATUSES)
        shipped = (created + dt.timedelta(days=rng.randrange(1, 4))).date() if status == "paid" and rng.random() < 0.8 else None
        memo = rng.choice(TRICKY_TEXT) if order_id % 9 == 0 else None
        yield (order_id, rng.randrange(1, 2001), product_id, quantity, prices[product_id] * quantity, status, created, shipped, memo)
