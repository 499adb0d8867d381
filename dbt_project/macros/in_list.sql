{#- A list of strings from a var as SQL literals, `'a', 'b'` (quotes escaped). -#}
{% macro quoted_list(items) -%}
    {% for item in items %}'{{ item | replace("'", "''") }}'{{ ", " if not loop.last }}{% endfor %}
{%- endmacro %}

{#- `column in ('a', 'b')` for a list of strings from a var; false for an empty list. -#}
{% macro in_list(column, items) -%}
    {%- if items -%} {{ column }} in ({{ quoted_list(items) }}) {%- else -%} false {%- endif -%}
{%- endmacro %}
