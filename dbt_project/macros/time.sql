{# Timestamps are stored as naive UTC. timezone('UTC', ts) reads them as UTC instants and
   timezone(tz, instant) gives the wall-clock time there, DST included, whatever the
   session's own TimeZone setting is. #}
{% macro to_local(ts_utc, tz) -%}
    timezone({{ tz }}, timezone('UTC', {{ ts_utc }}))
{%- endmacro %}

{% macro part_of_day(hour) -%}
    case
        when {{ hour }} between 0 and 5 then 'night'
        when {{ hour }} between 6 and 11 then 'morning'
        when {{ hour }} between 12 and 17 then 'afternoon'
        else 'evening'
    end
{%- endmacro %}

{# Sine and cosine of a cyclic value, e.g. hour of day with period 24. #}
{% macro cyclic(value, period, name) -%}
    sin(2 * pi() * {{ value }} / {{ period }}) as {{ name }}_sin,
    cos(2 * pi() * {{ value }} / {{ period }}) as {{ name }}_cos
{%- endmacro %}
