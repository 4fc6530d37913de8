"""A 12-column order-like table filled inside MariaDB from its SEQUENCE engine (seconds for 1M rows)."""

from __future__ import annotations

from devstack.stack import StackConfig, admin_connection, log

TABLE = "bench_orders"
SCHEMA = f"""CREATE TABLE {TABLE} (
    id BIGINT PRIMARY KEY, user_id INT NOT NULL, product_id INT NOT NULL, quantity INT NOT NULL,
    unit_price DECIMAL(10,2) NOT NULL, amount DECIMAL(12,2) NOT NULL, created_at DATETIME NOT NULL,
    shipped_on DATE NULL, status VARCHAR(20) NOT NULL, customer VARCHAR(100) NOT NULL,
    city VARCHAR(50) NULL, memo TEXT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""
# Korean names and cities, and memos that include formula-looking text, like the demo data.
FILL = f"""INSERT INTO {TABLE}
SELECT seq,
       1 + seq % 2000,
       1 + seq % 200,
       1 + seq % 5,
       (seq % 50000) / 100 + 5,
       ((seq % 50000) / 100 + 5) * (1 + seq % 5),
       TIMESTAMP('2026-01-01') + INTERVAL (seq * 7) SECOND,
       IF(seq % 5 = 0, NULL, DATE('2026-01-02') + INTERVAL (seq DIV 12000) DAY),
       ELT(1 + seq % 3, 'paid', 'refunded', 'cancelled'),
       CONCAT(ELT(1 + seq % 10, '김', '이', '박', '최', '정', '강', '조', '윤', '장', '임'),
              ELT(1 + seq % 7, '민준', '서연', '도윤', '하은', '시우', '지유', '예준')),
       ELT(1 + seq % 7, '서울', '부산', '인천', '대구', '대전', '광주', NULL),
       IF(seq % 3 = 0, NULL, ELT(1 + seq % 6, '=SUM(A1:A9)', '+82-10-1234-5678', '주문 메모 ✅ 😀',
          '빠른 배송 부탁드립니다', 'gift wrap, please', '@channel 확인 부탁'))
FROM seq_1_to_{{rows}}"""


def seed_orders(config: StackConfig, rows: int) -> None:
    with admin_connection(config) as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '{TABLE}'")
        if cursor.fetchone()[0]:
            cursor.execute(f"SELECT COUNT(*) FROM {TABLE}")
            if cursor.fetchone()[0] == rows:
                log(f"{TABLE} already holds {rows:,} rows")
                return
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")
        cursor.execute(SCHEMA)
        cursor.execute(FILL.format(rows=rows))
        cursor.execute(f"ANALYZE TABLE {TABLE}")
    log(f"seeded {TABLE} with {rows:,} rows")
