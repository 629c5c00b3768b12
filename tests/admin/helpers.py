"""Turning a rendered admin change form back into the POST data a browser would send."""


def _add_field(data, bound):
    value = bound.value()
    widget = bound.field.widget
    if value is None:
        return
    if getattr(widget, "input_type", None) == "checkbox" or type(widget).__name__ == "CheckboxInput":
        if value:
            data[bound.html_name] = "on"
        return
    if isinstance(value, list | tuple):
        if hasattr(widget, "decompress") or type(widget).__name__.startswith("Split"):
            for i, part in enumerate(value):
                data[f"{bound.html_name}_{i}"] = "" if part is None else str(part)
        else:
            data[bound.html_name] = [str(v) for v in value]
        return
    if hasattr(widget, "widgets") and not isinstance(value, list | tuple):
        for i, part in enumerate(widget.decompress(value)):
            data[f"{bound.html_name}_{i}"] = "" if part is None else str(part)
        return
    data[bound.html_name] = str(value)


def post_data(response):
    """The data of the main form and of every inline formset of an admin add/change page."""
    context = response.context
    data = {}
    for bound in context["adminform"].form:
        _add_field(data, bound)
    for inline in context["inline_admin_formsets"]:
        formset = inline.formset
        for bound in formset.management_form:
            data[bound.html_name] = str(bound.value() if bound.value() is not None else "")
        for form in formset.forms:
            if not form.instance.pk:
                continue
            for bound in form:
                _add_field(data, bound)
        data[f"{formset.prefix}-TOTAL_FORMS"] = str(sum(1 for f in formset.forms if f.instance.pk))
    return data
