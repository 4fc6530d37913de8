{#---
title: Orders by day
description: Every order created on one day, with its customer and product.
params:
  day: {type: date, default: yesterday, description: "The order date (report time zone)."}
  status: {type: string, choices: [paid, refunded, cancelled], required: false}
---#}
SELECT o.id AS `Order`,
       o.created_at AS `Created`,
       u.name AS `Customer`,
       p.name AS `Product`,
       o.quantity AS `Quantity`,
       o.amount AS `Amount`,
       o.status AS `Status`,
       o.shipped_on AS `Shipped on`,
       o.memo AS `Memo`
FROM orders o
JOIN users u ON u.id = o.user_id
JOIN products p ON p.id = o.product_id
WHERE o.created_at >= {{ day }} AND o.created_at < {{ day }} + INTERVAL 1 DAY
{% if status %}  AND o.status = {{ status }}
{% endif %}ORDER BY o.id
