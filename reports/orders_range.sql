{#---
title: Orders in a period
description: Every order in a date range, optionally filtered by status and minimum amount.
params:
  date_from: {type: date, default: today-30d, description: "First day, inclusive.", at_most: date_to}
  date_to: {type: date, default: today, description: "Last day, exclusive."}
  statuses: {type: "list[string]", choices: [paid, refunded, cancelled], required: false}
  min_amount: {type: decimal, required: false, min: 0}
---#}
SELECT o.id AS `Order`,
       o.created_at AS `Created`,
       u.name AS `Customer`,
       u.email AS `Email`,
       u.city AS `City`,
       p.name AS `Product`,
       p.category AS `Category`,
       o.quantity AS `Quantity`,
       p.price AS `Unit price`,
       o.amount AS `Amount`,
       o.status AS `Status`,
       o.shipped_on AS `Shipped on`,
       o.memo AS `Memo`
FROM orders o
JOIN users u ON u.id = o.user_id
JOIN products p ON p.id = o.product_id
WHERE o.created_at >= {{ date_from }} AND o.created_at < {{ date_to }}
{% if statuses %}  AND o.status IN ({{ statuses }})
{% endif %}{% if min_amount is not none %}  AND o.amount >= {{ min_amount }}
{% endif %}ORDER BY o.id
