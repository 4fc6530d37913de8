{#---
title: Customers
description: Customers who signed up since a date, optionally matching part of a name or a city.
params:
  since: {type: date, description: "Sign-up date, inclusive (required)."}
  name_contains: {type: string, required: false, max_length: 100}
  cities: {type: "list[string]", required: false, max_length: 20}
---#}
SELECT u.id AS `Customer id`,
       u.name AS `Name`,
       u.email AS `Email`,
       u.city AS `City`,
       u.note AS `Note`,
       u.created_at AS `Signed up`,
       (SELECT COUNT(*) FROM orders o WHERE o.user_id = u.id) AS `Orders`
FROM users u
WHERE u.created_at >= {{ since }}
{% if name_contains %}  AND u.name LIKE CONCAT('%', {{ name_contains }}, '%')
{% endif %}{% if cities %}  AND u.city IN ({{ cities }})
{% endif %}ORDER BY u.id
