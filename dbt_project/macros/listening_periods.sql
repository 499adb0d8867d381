{#- The periods a listener looks back on, one row each (listener_id, period_kind, period,
    period_start, period_end): every calendar year and month with a play in `plays`, and the
    12 months up to the listener's latest play. Local dates. -#}
{% macro listening_periods(plays) -%}
select distinct listener_id, 'year' as period_kind, strftime(local_date, '%Y') as period,
       make_date(year(local_date), 1, 1) as period_start, make_date(year(local_date), 12, 31) as period_end
from {{ plays }}
union all
select distinct listener_id, 'month', strftime(local_date, '%Y-%m'),
       date_trunc('month', local_date)::date, last_day(local_date)
from {{ plays }}
union all
select listener_id, 'last_12_months', 'last_12_months',
       (max(local_date) - interval 1 year + interval 1 day)::date, max(local_date)
from {{ plays }}
group by listener_id
{%- endmacro %}

{#- Every play of `plays` in each period of `periods` (listening_periods' rows) it falls in: the
    period's kind, name and bounds, then the play's columns. -#}
{% macro plays_in_periods(plays, periods) -%}
select {{ periods }}.period_kind, {{ periods }}.period, {{ periods }}.period_start, {{ periods }}.period_end,
       {{ plays }}.*
from {{ periods }}
inner join {{ plays }}
    on {{ plays }}.listener_id = {{ periods }}.listener_id
   and {{ plays }}.local_date between {{ periods }}.period_start and {{ periods }}.period_end
{%- endmacro %}
