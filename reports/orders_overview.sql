{#---
title: Orders overview
description: Daily totals and every order in a period, on two sheets of one workbook.
params:
  date_from: {type: date, default: today-7d, description: "First day, inclusive.", at_most: date_to}
  date_to: {type: date, default: today, description: "Last day, exclusive."}
  statuses: {type: "list[string]", choices: [paid, refunded, cancelled], required: false}
timezone: Asia/Seoul
title_row: true
freeze: B3
autofilter: true
on_empty: send
cache_ttl: 1h
columns:
  Orders: {format: '#,##0', width: 10}
  Revenue: {format: '#,##0', width: 14}
  Paid share: {format: '0.00%', width: 11}
  Created: {format: 'yyyy-mm-dd hh:mm', width: 17}
  Amount: {format: '#,##0.00', width: 12}
  Customer id: {hidden: true}
---#}
-- sheet: Summary by day
SELECT DATE(o.created_at) AS `Day`,
       COUNT(*) AS `Orders`,
       SUM(o.amount) AS `Revenue`,
       SUM(o.status = 'paid') / COUNT(*) AS `Paid share`
FROM orders o
WHERE o.created_at >= {{ date_from }} AND o.created_at < {{ date_to }}
{% if statuses %}  AND o.status IN ({{ statuses }})
{% endif %}GROUP BY DATE(o.created_at)
ORDER BY `Day`

-- sheet: Orders
SELECT o.id AS `Order`,
       o.created_at AS `Created`,
       o.user_id AS `Customer id`,
       u.name AS `Customer`,
       p.name AS `Product`,
       o.quantity AS `Quantity`,
       o.amount AS `Amount`,
       o.status AS `Status`
FROM orders o
JOIN users u ON u.id = o.user_id
JOIN products p ON p.id = o.product_id
WHERE o.created_at >= {{ date_from }} AND o.created_at < {{ date_to }}
{% if statuses %}  AND o.status IN ({{ statuses }})
{% endif %}ORDER BY o.id
