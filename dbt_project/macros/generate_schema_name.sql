{# Use the folder's schema name as is (staging, intermediate, marts), not target_schema + '_' + name,
   so ad-hoc SQL reads `marts.fct_sessions`. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name is not none else target.schema }}
{%- endmacro %}
