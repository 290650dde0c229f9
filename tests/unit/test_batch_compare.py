"""The reconcile job's comparison of orders and charges: which records count as mismatches."""


from app.batch.compare import compare


def test_compare_judges_only_the_window_and_uses_partners_outside_it():
    start, end = 1000.0, 2000.0
    charges = [
        {"id": "c-before", "order_ref": "r0", "amount_cents": 100, "created_at": 990.0},  # partner only
        {"id": "c-ok", "order_ref": "r1", "amount_cents": 500, "created_at": 1500.0},
        {"id": "c-lost", "order_ref": "r2", "amount_cents": 700, "created_at": 1600.0},
        {"id": "c-wrong", "order_ref": "r3", "amount_cents": 900, "created_at": 1700.0},
        {"id": "c-too-young", "order_ref": "r4", "amount_cents": 300, "created_at": 2010.0},
    ]
    orders = [
        {"id": 1, "charge_id": "c-before", "total_cents": 100, "created_at": 1001.0},
        {"id": 2, "charge_id": "c-ok", "total_cents": 500, "created_at": 1501.0},
        {"id": 3, "charge_id": "c-wrong", "total_cents": 800, "created_at": 1701.0},
        {"id": 4, "charge_id": "c-missing", "total_cents": 200, "created_at": 1800.0},
    ]
    result = compare(orders, charges, start, end)
    assert result.mismatches == {"charge_without_order": 1, "order_without_charge": 1, "amount_differs": 1}
    assert result.records_processed == 3 + 4
    assert {example["kind"] for example in result.examples} == set(result.mismatches)
    assert compare(orders[:2], charges[:2], start, end).mismatch_count == 0
