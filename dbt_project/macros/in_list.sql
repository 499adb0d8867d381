{#- `column in ('a', 'b')` for a list of strings from a var, quotes escaped; false for an empty list. -#}
{% macro in_list(column, items) -%}
    {%- if items -%}
        {{ column }} in ({% for item in items %}'{{ item | replace("'", "''") }}'{{ ", " if not loop.last }}{% endfor %})
    {%- else -%}
        false
    {%- endif -%}
{%- endmacro %}
