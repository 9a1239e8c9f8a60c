-- The display masks of the PII catalogue's rules (DOMAIN.md, docs/privacy.md) on invented values:
-- one row for every case whose mask differs from what the rule promises.
with cases as (

    select
        'mask_mobile, written +86 138-1234-5678' as masking_case,
        {{ mask_mobile("'+86 138-1234-5678'") }} as masked,
        '138****5678' as expected
    union all
    select 'mask_mobile, plain', {{ mask_mobile("'13912345678'") }}, '139****5678'
    union all
    select 'mask_name, two characters', {{ mask_name("'张伟'") }}, '张*'
    union all
    select 'mask_name, four characters: one star', {{ mask_name("'欧阳娜娜'") }}, '欧*'
    union all
    select 'mask_name, blank', {{ mask_name("'  '") }}, null
    union all
    select 'mask_id_card', {{ mask_id_card("'11010119900501001X'") }}, '110101********001X'
    union all
    select 'mask_email', {{ mask_email("'zhang.wei@163.com'") }}, 'z****@163.com'
    union all
    select 'mask_bank_card', {{ mask_bank_card("'6222 0202 0000 1234'") }}, '****1234'

)

select
    masking_case,
    masked,
    expected
from cases
where masked is distinct from expected
