"""The demo's help centre: the questions a Brazilian online shop answers every day, in
Portuguese and English (the English versions share each article's translation key).

Safe to run twice: categories are matched by name and articles by translation key and
language; whatever is already there (and may have been edited in the admin) is kept.
"""

from dataclasses import dataclass

from django.db import transaction

from .models import Article, Category, Language

SHOP = "https://loja.exemplo.com.br"

# (position, Portuguese name, English name)
CATEGORIES = {
    "entrega": (10, "Pedidos e entrega", "Orders and delivery"),
    "pagamento": (20, "Pagamento e nota fiscal", "Payment and invoices"),
    "trocas": (30, "Trocas, devoluções e garantia", "Returns, exchanges and warranty"),
    "fidelidade": (40, "Fidelidade e cupons", "Loyalty and coupons"),
    "atendimento": (50, "Atendimento", "Customer service"),
}


@dataclass(frozen=True)
class Entry:
    key: str
    category: str
    question_pt: str
    answer_pt: str
    question_en: str
    answer_en: str


ENTRIES = [
    Entry(
        "prazo-de-entrega",
        "entrega",
        "Qual é o prazo de entrega?",
        "O prazo aparece no carrinho assim que você informa o CEP, antes de pagar, e "
        "começa a contar a partir da confirmação do pagamento.\n\n"
        "Prazos médios:\n"
        "- Capitais do Sul e do Sudeste: 2 a 5 dias úteis\n"
        "- Demais capitais e regiões metropolitanas: 4 a 8 dias úteis\n"
        "- Interior e Norte: 6 a 12 dias úteis\n\n"
        "Pedidos pagos com boleto só seguem para separação depois da compensação, que leva "
        "até 3 dias úteis.",
        "How long does delivery take?",
        "The delivery time shows in the basket as soon as you enter your postcode (CEP), "
        "before you pay, and it starts counting once the payment is confirmed.\n\n"
        "Typical times:\n"
        "- State capitals in the South and Southeast: 2 to 5 business days\n"
        "- Other capitals and metropolitan areas: 4 to 8 business days\n"
        "- Inland towns and the North: 6 to 12 business days\n\n"
        "Orders paid by boleto are picked only after the payment clears, which takes up to "
        "3 business days.",
    ),
    Entry(
        "frete",
        "entrega",
        "Quanto custa o frete? Tem frete grátis?",
        "O frete é calculado pelo CEP e pelo peso do pedido, e você escolhe entre a entrega "
        "econômica e a expressa no carrinho.\n\n"
        "O frete é grátis nas compras acima de R$ 199 para todo o Brasil. Clientes Ouro e "
        "Diamante do programa de fidelidade têm frete grátis em qualquer compra.",
        "How much is shipping? Is there free shipping?",
        "Shipping is calculated from your postcode and the weight of the order; you choose "
        "between standard and express delivery in the basket.\n\n"
        "Shipping is free on orders over R$ 199 anywhere in Brazil. Gold and Diamond members "
        "of the loyalty programme get free shipping on every order.",
    ),
    Entry(
        "rastreio",
        "entrega",
        "Como rastreio meu pedido?",
        "Quando o pedido sai do nosso centro de distribuição, enviamos o código de rastreio "
        "por e-mail e WhatsApp.\n\n"
        f"Você também acompanha cada etapa em [Meus pedidos]({SHOP}/minha-conta/pedidos). "
        "O rastreio pode levar até 24 horas para mostrar a primeira movimentação na "
        "transportadora ou nos Correios.",
        "How do I track my order?",
        "When your order leaves our warehouse we send you the tracking code by e-mail and "
        "WhatsApp.\n\n"
        f"You can also follow every step in [My orders]({SHOP}/minha-conta/pedidos). "
        "Tracking may take up to 24 hours to show the first update from the carrier or "
        "Correios.",
    ),
    Entry(
        "alterar-endereco",
        "entrega",
        "Posso mudar o endereço de entrega depois da compra?",
        'Sim, enquanto o pedido estiver com o status "Pagamento aprovado" ou "Em '
        'separação". Fale com o nosso atendimento informando o número do pedido e o novo '
        "endereço completo, com CEP.\n\n"
        "Depois que o pedido é enviado, a transportadora não aceita mudança de endereço.",
        "Can I change the delivery address after ordering?",
        'Yes, while the order\'s status is "Payment approved" or "Being picked". Contact '
        "our customer service with the order number and the full new address, including "
        "the postcode (CEP).\n\n"
        "Once the order has shipped, the carrier cannot change the address.",
    ),
    Entry(
        "formas-de-pagamento",
        "pagamento",
        "Quais são as formas de pagamento?",
        "Aceitamos:\n"
        "- Pix, com aprovação na hora e 5% de desconto\n"
        "- Cartão de crédito (Visa, Mastercard, Elo, American Express e Hipercard) em até "
        "12x sem juros, com parcela mínima de R$ 30\n"
        "- Boleto bancário, com vencimento em 3 dias úteis\n\n"
        "Não aceitamos pagamento na entrega.",
        "Which payment methods do you accept?",
        "We accept:\n"
        "- Pix, approved instantly, with a 5% discount\n"
        "- Credit card (Visa, Mastercard, Elo, American Express and Hipercard) in up to "
        "12 interest-free instalments, minimum R$ 30 each\n"
        "- Boleto bancário, due in 3 business days\n\n"
        "We do not take payment on delivery.",
    ),
    Entry(
        "pix",
        "pagamento",
        "Como funciona o pagamento por Pix?",
        'Ao finalizar a compra, escolha Pix: mostramos um QR Code e um código "copia e '
        'cola". Abra o aplicativo do seu banco, pague e pronto: a confirmação chega em '
        "poucos segundos e o pedido segue para separação.\n\n"
        "O código vale por 30 minutos. Se expirar, o pedido é cancelado automaticamente e "
        "você pode comprar de novo.",
        "How does paying by Pix work?",
        "At checkout, choose Pix: we show a QR code and a copy-and-paste code. Open your "
        "bank's app and pay; the confirmation arrives within seconds and your order goes "
        "on to picking.\n\n"
        "The code is valid for 30 minutes. If it expires, the order is cancelled "
        "automatically and you can simply order again.",
    ),
    Entry(
        "nota-fiscal",
        "pagamento",
        "Onde encontro a nota fiscal do meu pedido?",
        "A nota fiscal eletrônica (NF-e) é emitida quando o pedido é enviado. O PDF (DANFE) "
        "e o arquivo XML chegam no seu e-mail e ficam disponíveis em "
        f"[Meus pedidos]({SHOP}/minha-conta/pedidos).\n\n"
        "Para nota em nome de empresa, informe o CNPJ no cadastro antes de finalizar a "
        "compra: não é possível alterar os dados de uma nota já emitida.",
        "Where can I find my order's invoice (nota fiscal)?",
        "The electronic invoice (NF-e) is issued when your order ships. The PDF (DANFE) and "
        "the XML file are e-mailed to you and are also available in "
        f"[My orders]({SHOP}/minha-conta/pedidos).\n\n"
        "For an invoice in a company's name, add the CNPJ to your account before checking "
        "out: an invoice cannot be changed once issued.",
    ),
    Entry(
        "direito-de-arrependimento",
        "trocas",
        "Posso desistir da compra e devolver o produto?",
        "Sim. Pelo Código de Defesa do Consumidor (art. 49), compras feitas pela internet "
        "podem ser canceladas em até 7 dias corridos depois do recebimento, sem precisar "
        "dar motivo.\n\n"
        "Peça a devolução em Meus pedidos: enviamos uma etiqueta de postagem gratuita. "
        "Devolvemos o valor total pago, incluindo o frete, assim que o produto chega ao "
        "nosso centro de distribuição.\n\n"
        "Saiba mais no [Código de Defesa do Consumidor]"
        "(https://www.planalto.gov.br/ccivil_03/leis/l8078compilado.htm).",
        "Can I change my mind and return a product?",
        "Yes. Under Brazil's Consumer Protection Code (art. 49), online purchases can be "
        "cancelled within 7 calendar days of delivery, without giving a reason.\n\n"
        "Ask for the return in My orders: we send you a free postage label. We refund the "
        "full amount paid, shipping included, as soon as the product reaches our "
        "warehouse.\n\n"
        "Read more in the [Consumer Protection Code]"
        "(https://www.planalto.gov.br/ccivil_03/leis/l8078compilado.htm) (in Portuguese).",
    ),
    Entry(
        "troca",
        "trocas",
        "Como faço para trocar um produto?",
        "Você tem 30 dias a partir do recebimento para trocar por outro tamanho, cor ou "
        "modelo. O produto deve estar sem uso, com etiqueta e na embalagem original.\n\n"
        "1. Solicite a troca em Meus pedidos e escolha o novo item.\n"
        "2. Poste o produto com a etiqueta gratuita que enviamos por e-mail.\n"
        "3. Quando o produto chega, despachamos o novo item em até 2 dias úteis.\n\n"
        "A primeira troca de cada pedido é grátis.",
        "How do I exchange a product?",
        "You have 30 days from delivery to exchange an item for another size, colour or "
        "model. It must be unused, with its tags and in the original packaging.\n\n"
        "1. Ask for the exchange in My orders and choose the new item.\n"
        "2. Post the product with the free label we e-mail you.\n"
        "3. Once it arrives, we ship the new item within 2 business days.\n\n"
        "The first exchange on each order is free.",
    ),
    Entry(
        "reembolso",
        "trocas",
        "Quando recebo o reembolso de uma devolução?",
        "O reembolso é feito na mesma forma de pagamento da compra, depois que o produto "
        "devolvido chega e é conferido (até 3 dias úteis):\n"
        "- Cartão de crédito: estorno solicitado na hora; aparece em até 2 faturas, conforme "
        "o banco emissor\n"
        "- Pix: devolução na mesma conta em até 1 dia útil\n"
        "- Boleto: transferência para a conta que você indicar, em até 5 dias úteis",
        "When do I get my refund for a return?",
        "We refund to the payment method you used, once the returned product has arrived "
        "and been checked (up to 3 business days):\n"
        "- Credit card: the chargeback is requested at once and shows within 2 statements, "
        "depending on your bank\n"
        "- Pix: back to the same account within 1 business day\n"
        "- Boleto: a transfer to the account you give us, within 5 business days",
    ),
    Entry(
        "cancelamento",
        "trocas",
        "Como cancelo um pedido?",
        'Se o pedido ainda não foi enviado, cancele em Meus pedidos, no botão "Cancelar '
        'pedido". O valor volta pela mesma forma de pagamento.\n\n'
        "Se o pedido já saiu para entrega, recuse o recebimento ou peça a devolução em até "
        "7 dias depois de receber: o reembolso é integral.",
        "How do I cancel an order?",
        'If the order has not shipped yet, cancel it in My orders with the "Cancel order" '
        "button. The money goes back to the payment method you used.\n\n"
        "If it is already on its way, refuse the delivery or ask for a return within 7 days "
        "of receiving it: you get a full refund.",
    ),
    Entry(
        "garantia",
        "trocas",
        "Qual é a garantia dos produtos? E se vier com defeito?",
        "Todos os produtos têm a garantia legal do Código de Defesa do Consumidor: 30 dias "
        "para produtos não duráveis e 90 dias para duráveis, contados do recebimento. Muitos "
        "têm também garantia do fabricante, informada na página do produto.\n\n"
        "Se o produto chegou com defeito ou diferente do que você comprou, fale com o "
        "atendimento enviando fotos: trocamos, consertamos ou devolvemos o seu dinheiro, "
        "sem custo de frete.",
        "What warranty do products have? What if one is faulty?",
        "Every product carries the legal warranty of Brazil's Consumer Protection Code: "
        "30 days for non-durable goods and 90 days for durable goods, from delivery. Many "
        "also carry a manufacturer's warranty, shown on the product page.\n\n"
        "If a product arrived faulty or not as ordered, contact customer service with "
        "photos: we replace it, repair it or refund you, with no shipping cost.",
    ),
    Entry(
        "programa-de-fidelidade",
        "fidelidade",
        "Como funciona o programa de fidelidade e os pontos?",
        "Cada R$ 1 em compras vale 1 ponto, creditado quando o pedido é pago. Os pontos valem "
        "por 12 meses e podem ser trocados por recompensas, como frete grátis (150 pontos) "
        "ou um cupom de R$ 25 (250 pontos).\n\n"
        "Quanto mais você compra, mais sobe de nível:\n"
        "- Prata, a partir de R$ 500 em compras\n"
        "- Ouro, a partir de R$ 1.500\n"
        "- Diamante, a partir de R$ 5.000\n\n"
        "Indicou um amigo e ele comprou? Você ganha 200 pontos.",
        "How do the loyalty programme and points work?",
        "Every R$ 1 you spend earns 1 point, credited when the order is paid. Points are "
        "valid for 12 months and can be redeemed for rewards such as free shipping "
        "(150 points) or an R$ 25 coupon (250 points).\n\n"
        "The more you buy, the higher your tier:\n"
        "- Silver, from R$ 500 in purchases\n"
        "- Gold, from R$ 1,500\n"
        "- Diamond, from R$ 5,000\n\n"
        "Referred a friend who made a purchase? You earn 200 points.",
    ),
    Entry(
        "cupom",
        "fidelidade",
        "Como uso um cupom de desconto?",
        'No carrinho, digite o código no campo "Cupom de desconto" e clique em Aplicar. O '
        "desconto aparece no total antes do pagamento.\n\n"
        "Cada pedido aceita um cupom, que não se soma a outras promoções. Se o cupom não "
        "funcionar, confira a validade, o valor mínimo da compra e se ele vale para os "
        "produtos do carrinho.",
        "How do I use a discount coupon?",
        'In the basket, type the code in the "Discount coupon" field and click Apply. The '
        "discount shows in the total before you pay.\n\n"
        "One coupon per order, not combined with other promotions. If a coupon does not "
        "work, check its expiry date, the minimum order value and whether it covers the "
        "products in your basket.",
    ),
    Entry(
        "horario-de-atendimento",
        "atendimento",
        "Qual é o horário de atendimento?",
        "Nosso time atende de segunda a sexta, das 8h às 20h, e aos sábados, das 9h às 14h "
        "(horário de Brasília), exceto feriados nacionais.\n\n"
        "- WhatsApp: (11) 4000-1234\n"
        "- E-mail: [atendimento@loja.exemplo.com.br](mailto:atendimento@loja.exemplo.com.br)\n"
        "- Chat no site, no canto da tela\n\n"
        "Respondemos a primeira mensagem em até 10 horas úteis.",
        "What are your customer service hours?",
        "Our team is available Monday to Friday, 8 am to 8 pm, and Saturdays, 9 am to 2 pm "
        "(Brasília time), except on national holidays.\n\n"
        "- WhatsApp: +55 11 4000-1234\n"
        "- E-mail: [atendimento@loja.exemplo.com.br](mailto:atendimento@loja.exemplo.com.br)\n"
        "- Chat on the website, in the corner of the screen\n\n"
        "We answer your first message within 10 business hours.",
    ),
    Entry(
        "minha-conta",
        "atendimento",
        "Esqueci minha senha. Como acesso minha conta?",
        'Na tela de entrar, clique em "Esqueci minha senha" e informe o e-mail do '
        "cadastro: enviamos um link para criar uma nova senha, válido por 1 hora.\n\n"
        "Não recebeu? Confira a caixa de spam ou fale com o nosso atendimento.",
        "I forgot my password. How do I get into my account?",
        'On the sign-in page, click "Forgot my password" and enter the e-mail address of '
        "your account: we send you a link to set a new password, valid for 1 hour.\n\n"
        "Nothing arrived? Check your spam folder or contact our customer service.",
    ),
]


@transaction.atomic
def faq_demo() -> int:
    """Create the demo's help centre; returns how many articles were added."""
    categories = {}
    for code, (position, name_pt, name_en) in CATEGORIES.items():
        for language, name in ((Language.PT_BR, name_pt), (Language.EN, name_en)):
            category, _created = Category.objects.get_or_create(
                name=name, defaults={"position": position}
            )
            categories[code, language] = category
    existing = set(
        Article.objects.filter(translation_key__in=[e.key for e in ENTRIES]).values_list(
            "translation_key", "language"
        )
    )
    added = 0
    for position, entry in enumerate(ENTRIES, start=1):
        versions = [
            (Language.PT_BR, entry.question_pt, entry.answer_pt),
            (Language.EN, entry.question_en, entry.answer_en),
        ]
        for language, question, answer in versions:
            if (entry.key, language) in existing:
                continue
            # One save() per article (a few dozen): it fills the search columns and slug.
            Article.objects.create(
                question=question,
                answer=answer,
                category=categories[entry.category, language],
                language=language,
                published=True,
                position=position * 10,
                translation_key=entry.key,
            )
            added += 1
    return added
