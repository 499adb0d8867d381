{# Rows whose combination of columns appears more than once: the grain of a composite key.
   With written_since (a time column of a play table that every listener's history fills), only
   the rows from the earliest rebuilt tail on are grouped: what this build wrote (macro
   written_tail), not ten million rows of a household each refresh. #}
{% test unique_combination(model, columns, written_since=none, column_name=none) %}
select {{ columns | join(', ') }}, count(*) as occurrences
from {{ model }}
where {{ written_tail(written_since) if written_since else 'true' }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
