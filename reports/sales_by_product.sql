{#---
title: Sales by product
description: Paid revenue and units per product over a period.
params:
  date_from: {type: date, default: month_start, at_most: date_to}
  date_to: {type: date, default: tomorrow}
  categories: {type: "list[string]", required: false, max_length: 50}
---#}
SELECT p.id AS `Product id`,
       p.name AS `Product`,
       p.category AS `Category`,
       COUNT(o.id) AS `Orders`,
       SUM(o.quantity) AS `Units`,
       SUM(o.amount) AS `Revenue`,
       MIN(o.created_at) AS `First order`,
       MAX(o.created_at) AS `Last order`
FROM products p
JOIN orders o ON o.product_id = p.id AND o.status = 'paid'
WHERE o.created_at >= {{ date_from }} AND o.created_at < {{ date_to }}
{% if categories %}  AND p.category IN ({{ categories }})
{% endif %}GROUP BY p.id, p.name, p.category
ORDER BY `Revenue` DESC, p.id
